/**
 * Every query the dashboard makes, defined once: the server prefetches these keys into a
 * HydrationBoundary and the browser reads (and refetches) them through the JSON API.
 */
import { queryOptions } from "@tanstack/react-query";
import type { ReplacePreviewAnswer } from "@/lib/rollout/replace-preview";
import type { FaultView, FleetView, LbTrafficView, LoadBalancerRow, RolloutDetailView, RolloutSummary } from "@/lib/views";

export const queryKeys = {
  loadBalancers: ["load-balancers"] as const,
  lb: (name: string) => ["load-balancers", name] as const,
  instances: (name: string) => ["load-balancers", name, "instances"] as const,
  traffic: (name: string) => ["load-balancers", name, "traffic"] as const,
  faults: ["faults"] as const,
  rollouts: ["rollouts"] as const,
  rolloutList: ["rollouts", "list"] as const,
  rollout: (id: string) => ["rollouts", "detail", id] as const,
  replacePreview: (name: string, query: string) => ["load-balancers", name, "replace-preview", query] as const,
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The API's error code (CONFIG, AUTH, UNAVAILABLE, NOT_FOUND, …) when it sent one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: "application/json" }, cache: "no-store" });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { message?: string; code?: string } | null;
    throw new ApiError(res.status, body?.message ?? `GET ${path} failed with ${res.status}`, body?.code);
  }
  return (await res.json()) as T;
}

const enc = encodeURIComponent;

export const loadBalancersQuery = () =>
  queryOptions({
    queryKey: queryKeys.loadBalancers,
    queryFn: () => getJson<LoadBalancerRow[]>("/api/load-balancers"),
  });

export const instancesQuery = (lb: string) =>
  queryOptions({
    queryKey: queryKeys.instances(lb),
    queryFn: () => getJson<FleetView>(`/api/load-balancers/${enc(lb)}/instances`),
  });

export const trafficQuery = (lb: string) =>
  queryOptions({
    queryKey: queryKeys.traffic(lb),
    queryFn: () => getJson<LbTrafficView | null>(`/api/load-balancers/${enc(lb)}/traffic`),
  });

export const rolloutListQuery = () =>
  queryOptions({
    queryKey: queryKeys.rolloutList,
    queryFn: () => getJson<RolloutSummary[]>("/api/rollouts"),
  });

export const rolloutQuery = (id: string) =>
  queryOptions({
    queryKey: queryKeys.rollout(id),
    queryFn: () => getJson<RolloutDetailView>(`/api/rollouts/${enc(id)}`),
  });

export const faultsQuery = () =>
  queryOptions({
    queryKey: queryKeys.faults,
    queryFn: () => getJson<FaultView[]>("/api/faults"),
  });

/** The replace strategy's preview for the form's values (a fresh survey of the group: not refetched on its own). */
export const replacePreviewQuery = (lb: string, params: URLSearchParams) =>
  queryOptions({
    queryKey: queryKeys.replacePreview(lb, params.toString()),
    queryFn: () => getJson<ReplacePreviewAnswer>(`/api/load-balancers/${enc(lb)}/replace-preview?${params.toString()}`),
    staleTime: 5_000,
    retry: false,
  });
