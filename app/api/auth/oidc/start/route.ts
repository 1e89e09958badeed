export { handleOidcStart as GET } from "@/server/auth/oidc-routes";

export const dynamic = "force-dynamic";
