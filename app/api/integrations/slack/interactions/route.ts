/**
 * Slack's interactivity request URL. No session or token: Slack's request signature is the credential
 * (checked in server/notify/slack.ts before anything else is read).
 */
import { handleSlackInteraction } from "@/server/notify/slack";
import { runtime } from "@/server/runtime";

export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  return handleSlackInteraction(runtime(), request);
}
