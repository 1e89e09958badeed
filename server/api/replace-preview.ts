/**
 * The replace strategy's plan preview for the new-rollout form: a fresh survey of the Auto Scaling
 * group behind a load balancer (the provider's read, nothing changes), judged by lib's readiness check
 * with the operator's options, as the start command will judge it.
 */
import { answerReplacePreview, unsupportedAnswer, type ReplacePreviewAnswer, type ReplacePreviewQuery } from "@/lib/rollout/replace-preview";
import { runtime } from "@/server/runtime";
import { summaryOf } from "@/server/api/fleet";

export async function replacePreview(lb: string, query: ReplacePreviewQuery): Promise<ReplacePreviewAnswer> {
  await summaryOf(lb);
  const provider = runtime().monitor.provider;
  if (!provider.groups) return unsupportedAnswer(provider.name);
  // A ProviderError (AUTH naming the missing permission, THROTTLED, …) goes out as it is: respond() gives it its status.
  return answerReplacePreview(await provider.groups.survey(lb, query.target), query);
}
