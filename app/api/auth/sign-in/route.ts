export { handleSignIn as POST } from "@/server/auth/auth-routes";

export const dynamic = "force-dynamic";
