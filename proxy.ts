/**
 * Next 16's proxy (formerly middleware): page visits without a live session go to /sign-in.
 * A convenience only: every server action, route handler and page checks the session itself.
 */
export { authProxy as proxy } from "@/server/auth/proxy";
