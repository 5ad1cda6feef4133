// Types of index.js (hand-written, like index.js; the contract's own types are in gen/).
import type { Client } from "@connectrpc/connect";
import type { GrpcTransportOptions } from "@connectrpc/connect-node";
import type { QuotaService } from "./gen/quota_sidecar/v1/quota_pb.js";
import type { QuotaAdminService } from "./gen/quota_sidecar/v1/admin_pb.js";

export { create } from "@bufbuild/protobuf";
export { Code, ConnectError } from "@connectrpc/connect";
export * from "./gen/quota_sidecar/v1/types_pb.js";
export * from "./gen/quota_sidecar/v1/quota_pb.js";
export * from "./gen/quota_sidecar/v1/admin_pb.js";

export interface QuotaSidecarOptions extends Partial<Omit<GrpcTransportOptions, "baseUrl">> {
  /** The data-plane token (QUOTA_SIDECAR_DATA_TOKEN), sent as a bearer token. */
  token?: string;
  /** The admin token (QUOTA_SIDECAR_ADMIN_TOKEN); defaults to token. */
  adminToken?: string;
}

export interface QuotaSidecarClients {
  quota: Client<typeof QuotaService>;
  admin: Client<typeof QuotaAdminService>;
}

/** Clients of both services of the sidecar at target ("host:port", or an http(s):// URL). */
export declare function connectQuotaSidecar(
  target: string,
  options?: QuotaSidecarOptions,
): QuotaSidecarClients;
