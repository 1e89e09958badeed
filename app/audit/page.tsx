import type { Metadata } from "next";
import { AuditFilters } from "@/components/audit/audit-filters";
import { filterQuery } from "@/components/audit/audit-query";
import { AuditTable } from "@/components/audit/audit-table";
import { Forbidden } from "@/components/auth/forbidden";
import { buttonCls, Panel } from "@/components/ui/table";
import { auditPage, parseAuditQuery } from "@/server/auth/audit";
import { authDb } from "@/server/auth/db";
import { pageOperator } from "@/server/auth/guard";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Audit trail" };

type SearchParams = Record<string, string | string[] | undefined>;

export default async function AuditPage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const sp = await searchParams;
  const here = new URLSearchParams(Object.entries(sp).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])));
  const auth = await pageOperator("read", here.size ? `/audit?${here}` : "/audit");
  if (!auth.ok) return <Forbidden message={auth.message} />;
  const q = parseAuditQuery(sp);
  const query = q.success ? q.data : parseAuditQuery({}).data!;
  const page = auditPage(authDb(), query);
  const error = q.success ? undefined : `Ignored an invalid filter: ${q.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
  return (
    <section aria-labelledby="audit-heading" className="space-y-4">
      <h1 id="audit-heading" className="text-xl font-semibold">Audit trail</h1>
      <p className="text-sm text-zinc-600 dark:text-zinc-400">
        Every operator and engine event, and every sign-in and token change, newest first. The log is append-only: nothing here can be edited or deleted.
      </p>
      <AuditFilters filter={page.filter} actors={page.actors} types={page.types} error={error} />
      <Panel title={`Events ${page.offset + 1}–${page.offset + page.rows.length}`} id="audit-events">
        <AuditTable rows={page.rows} />
        <nav aria-label="Pages" className="flex gap-2 border-t border-zinc-200 p-2 dark:border-zinc-800">
          {page.offset > 0 ? (
            <a className={buttonCls.secondary} href={`/audit?${filterQuery(page.filter, { offset: Math.max(0, page.offset - page.limit) })}`}>Newer</a>
          ) : null}
          {page.more ? (
            <a className={buttonCls.secondary} href={`/audit?${filterQuery(page.filter, { offset: page.offset + page.limit })}`}>Older</a>
          ) : null}
        </nav>
      </Panel>
    </section>
  );
}
