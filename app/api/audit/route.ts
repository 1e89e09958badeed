export { handleAuditExport as GET } from "@/server/auth/audit-route";

export const dynamic = "force-dynamic";
