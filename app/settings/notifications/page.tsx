import type { Metadata } from "next";
import { Forbidden } from "@/components/auth/forbidden";
import { NotifyAdmin } from "@/components/notify/notify-admin";
import { authDb } from "@/server/auth/db";
import { pageOperator } from "@/server/auth/guard";
import { storedSlackUsers } from "@/server/notify/slack";
import { deliveryLog, listTargets } from "@/server/notify/targets";
import { addTargetAction, changeTargetAction, slackUsersAction } from "./actions";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Notifications" };

export default async function NotificationsPage() {
  const auth = await pageOperator("settings.manage", "/settings/notifications");
  if (!auth.ok) return <Forbidden message={auth.message} />;
  const db = authDb();
  const targets = listTargets(db).map((t) => ({ target: t, deliveries: deliveryLog(db, t.id, 20) }));
  return (
    <section aria-labelledby="notifications-heading" className="space-y-4">
      <h1 id="notifications-heading" className="text-xl font-semibold">Notifications</h1>
      <NotifyAdmin
        targets={targets}
        slack={{ stored: storedSlackUsers(db), fromEnv: Boolean(process.env.ROTOR_SLACK_USERS), signing: Boolean(process.env.ROTOR_SLACK_SIGNING_SECRET) }}
        add={addTargetAction}
        change={changeTargetAction}
        setSlackUsers={slackUsersAction}
      />
    </section>
  );
}
