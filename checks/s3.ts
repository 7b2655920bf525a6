// S3 (AWS, MinIO, any S3-compatible store): HeadBucket on the configured bucket, or ListBuckets
// without one, over a fresh connection that is closed afterwards.

import * as z from "#zod";
import { nonEmpty } from "../src/config/schema.js";
import type { HealthCheckResult, Plugin } from "../src/health/model.js";
import { budgetMs, endpointOf, endpointOfUrl, networkMessage, safeUrl, timedOutMessage, urlSetting, type Endpoint, withSettingsOrigin } from "../src/lib/net.js";

// The SDK prints a notice about Node 20 on its first client; hop3-health's output stays clean.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const settings = z.strictObject({
  endpoint: z.optional(urlSetting(["http", "https"], "http://127.0.0.1:9000")),
  bucket: z.optional(nonEmpty()),
  access_key: z.optional(nonEmpty()),
  secret_key: z.optional(nonEmpty()),
  region: z._default(nonEmpty(), "us-east-1"),
  /** Path-style addressing (http://host/bucket), as MinIO and most self-hosted stores want. */
  path_style: z.optional(z.boolean()),
});
type Settings = z.infer<typeof settings>;

interface SdkError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function describeFailure(error: unknown, endpoint: Endpoint, bucket: string | undefined, timeoutSeconds: number): string {
  const network = networkMessage(error, endpoint, timeoutSeconds);
  if (network) return network;
  const { name = "", message = "", Code, $metadata } = (error ?? {}) as SdkError;
  const status = $metadata?.httpStatusCode;
  const code = Code ?? name;
  if (code === "NotFound" || code === "NoSuchBucket" || (bucket && status === 404)) return `bucket ${bucket ?? "?"} not found (${endpoint.where})`;
  if (["InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"].includes(code)) {
    return `authentication failed: the access key or secret key was rejected (${endpoint.where})`;
  }
  if (code === "Forbidden" || code === "AccessDenied" || status === 403) {
    return bucket ? `access denied to bucket ${bucket} (${endpoint.where})` : `access denied (${endpoint.where})`;
  }
  if (name === "TimeoutError" || /timed? ?out/i.test(message)) return timedOutMessage(timeoutSeconds, endpoint);
  if (status !== undefined && status >= 500) return `server error HTTP ${status} from ${endpoint.where}`;
  return `unexpected answer from ${endpoint.where} (is it S3?)${status ? `: HTTP ${status}` : ""}${message && message !== "UnknownError" ? `: ${message}` : ""}`;
}

const plugin: Plugin = {
  name: "s3",
  settings: { s3: settings },
  getHealthChecks: (ctx) => [
    {
      id: "s3",
      name: "S3",
      section: "Backing services",
      isConfigured: () => {
        const config = ctx.configFor<Settings>("s3");
        return config.endpoint !== undefined || config.bucket !== undefined;
      },
      check: (signal) => withSettingsOrigin(ctx, "s3", "S3", async (): Promise<HealthCheckResult> => {
        const config = ctx.configFor<Settings>("s3");
        const url = config.endpoint ? new URL(config.endpoint) : undefined;
        const endpoint = url
          ? endpointOfUrl(url, url.protocol === "https:" ? 443 : 80)
          : endpointOf(`s3.${config.region}.amazonaws.com`, 443);
        const budget = budgetMs(ctx, "s3");
        // One connection among at most connections_per_server to this server.
        return ctx.withServer(endpoint.where, async (): Promise<HealthCheckResult> => {
          // The SDK is loaded by the first check that uses it, not by every command.
          const [{ HeadBucketCommand, ListBucketsCommand, S3Client }, { default: http }, { default: https }] = await Promise.all([
            import("@aws-sdk/client-s3"),
            import("node:http"),
            import("node:https"),
          ]);
          // No keep-alive: the connection is closed once the answer is in.
          const agent = { httpAgent: new http.Agent({ keepAlive: false }), httpsAgent: new https.Agent({ keepAlive: false }) };
          const client = new S3Client({
            region: config.region,
            ...(url ? { endpoint: url.href } : {}),
            forcePathStyle: config.path_style ?? url !== undefined,
            maxAttempts: 1,
            // Without keys, requests go unsigned (a public bucket): no credential lookup that would
            // reach for instance metadata or files behind the operator's back.
            ...(config.access_key && config.secret_key
              ? { credentials: { accessKeyId: config.access_key, secretAccessKey: config.secret_key } }
              : { credentials: { accessKeyId: "", secretAccessKey: "" }, signer: { sign: (request) => Promise.resolve(request) } }),
            requestHandler: { connectionTimeout: budget.ms, requestTimeout: budget.ms, throwOnRequestTimeout: true, ...agent },
          });
          const details = { endpoint: url ? safeUrl(url) : `https://${endpoint.where}`, bucket: config.bucket ?? null, region: config.region };
          try {
            if (config.bucket) {
              await client.send(new HeadBucketCommand({ Bucket: config.bucket }), { abortSignal: signal });
              return { name: "S3", passed: true, message: `bucket ${config.bucket} reachable at ${endpoint.where}`, details };
            }
            const listing = await client.send(new ListBucketsCommand({}), { abortSignal: signal });
            const count = listing.Buckets?.length ?? 0;
            return { name: "S3", passed: true, message: `${count} bucket${count === 1 ? "" : "s"} reachable at ${endpoint.where}`, details: { ...details, buckets: count } };
          } catch (error) {
            return { name: "S3", passed: false, message: describeFailure(error, endpoint, config.bucket, budget.seconds), details };
          } finally {
            client.destroy();
            agent.httpAgent.destroy();
            agent.httpsAgent.destroy();
          }
        }, signal);
      }),
    },
  ],
};

export default plugin;
