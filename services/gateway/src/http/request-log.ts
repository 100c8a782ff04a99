import { LogController, type FastifyReply, type FastifyRequest } from "fastify";

/** A request that took at least this long is logged at `warn` whatever the log level. */
export const SLOW_REQUEST_MS = 1_000;

/**
 * Which requests the gateway logs (docs/operations.md, `LOG_LEVEL`). Every request is counted and
 * timed in `galaxy_http_request_duration_seconds`, so its two lines ("incoming request",
 * "request completed") are written at `debug`: at `info` they cost the gateway about a third of
 * its CPU on the read path (docs/benchmarks.md, "Request logs"). A request that failed with an
 * error, or was slow, is still logged at `info` level or above.
 */
export class RequestLog extends LogController {
  constructor(private readonly slowMs: number = SLOW_REQUEST_MS) {
    super();
  }

  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const responseTime = reply.elapsedTime;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime }, "request errored");
    else if (responseTime >= this.slowMs) reply.log.warn({ req: request, res: reply, responseTime }, "slow request");
    else if (reply.statusCode >= 500) reply.log.info({ req: request, res: reply, responseTime }, "request completed");
    else reply.log.debug({ res: reply, responseTime }, "request completed");
  }
}
