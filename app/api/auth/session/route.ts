export { handleSession as GET } from "@/server/auth/auth-routes";

export const dynamic = "force-dynamic";
