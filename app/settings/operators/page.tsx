import type { Metadata } from "next";
import { Forbidden } from "@/components/auth/forbidden";
import { OperatorAdmin } from "@/components/auth/operator-admin";
import { listOperators } from "@/server/auth/accounts";
import { authDb } from "@/server/auth/db";
import { pageOperator } from "@/server/auth/guard";
import { readSetting } from "@/server/auth/settings";
import { TWO_PERSON_SETTING } from "@/server/auth/two-person";
import { lockedAccounts } from "@/server/auth/sign-in";
import { addOperatorAction, disableOperatorAction, liftLockAction, twoPersonAction } from "./actions";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Operators" };

export default async function OperatorsPage() {
  const auth = await pageOperator("operators.manage", "/settings/operators");
  if (!auth.ok) return <Forbidden message={auth.message} />;
  const db = authDb();
  const stored = readSetting(db, TWO_PERSON_SETTING);
  const fromEnv = (process.env.ROTOR_TWO_PERSON_LBS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return (
    <section aria-labelledby="operators-heading" className="space-y-4">
      <h1 id="operators-heading" className="text-xl font-semibold">Operators</h1>
      <OperatorAdmin
        me={auth.operator.name}
        operators={listOperators(db)}
        twoPerson={{ stored: Array.isArray(stored) ? stored.filter((s): s is string => typeof s === "string") : [], fromEnv }}
        add={addOperatorAction}
        disable={disableOperatorAction}
        setTwoPerson={twoPersonAction}
        locks={lockedAccounts()}
        liftLock={liftLockAction}
      />
    </section>
  );
}
