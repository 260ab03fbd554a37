import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { wantsWhipCors, whipCors } from './cors';
import { errorCodeOfStatus, httpStatusOf, StudioError, type ErrorBody } from '../../shared/errors';
import { clientName } from '../../shared/validation';

function fromFramework(error: FastifyError): { status: number; body: ErrorBody } {
  const status = error.statusCode ?? 500;
  const code = errorCodeOfStatus(status);
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
    return {
      status: 400,
      body: { code: 'InvalidArgument', message: `request body is not valid JSON: ${error.message}` },
    };
  }
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return {
      status: 400,
      body: { code: 'InvalidArgument', message: 'request body is empty; send a JSON object' },
    };
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, body: { code: 'PayloadTooLarge', message: 'request body is too large' } };
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, body: { code: 'InvalidArgument', message: error.message } };
  }
  if (status >= 500) return { status, body: { code, message: 'internal error; see the studio log' } };
  return { status, body: { code, message: error.message } };
}

/**
 * Errors Fastify answers before any route (`frameworkErrors`): in the same shape as the rest.
 * `FST_ERR_BAD_URL`: a path that does not decode (`%zz`, an overlong UTF-8 escape);
 * `FST_ERR_MAX_PARAM_LENGTH`: a path segment longer than the router takes (no id is that long).
 */
export function answerFrameworkError(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const body: ErrorBody =
    error.code === 'FST_ERR_BAD_URL'
      ? { code: 'InvalidArgument', message: 'the URL path does not decode: a % escape that is not UTF-8' }
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? { code: 'InvalidArgument', message: 'a part of the URL path is longer than 100 characters' }
        : fromFramework(error).body;
  const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : (error.statusCode ?? 400);
  void reply.status(status).send(body);
}

/**
 * Requests Node's HTTP parser refuses (an unknown method, headers too large, a malformed request
 * line) never reach Fastify: answered here in the same shape, then the connection closes.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return;
  const [status, text, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
      : error.code === 'HPE_INVALID_METHOD'
        ? [400, 'Bad Request', 'the request method is not an HTTP method the studio knows']
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'the request did not arrive in time']
          : [400, 'Bad Request', `the request is not well-formed HTTP (${error.code ?? 'parse error'})`];
  const body = JSON.stringify({ code: 'InvalidArgument', message } satisfies ErrorBody);
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** One error shape for every route: `{ code, message, field? }`. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (wantsWhipCors(request)) whipCors(reply);
    if (error instanceof StudioError) {
      if (error.code === 'Unauthenticated' && !reply.hasHeader('WWW-Authenticate'))
        reply.header('WWW-Authenticate', 'Bearer realm="spool"');
      if (error.retryAfterSec !== undefined) reply.header('Retry-After', String(error.retryAfterSec));
      if (error.code === 'Internal') request.log.error({ err: error }, 'request failed');
      return reply.status(httpStatusOf(error.code)).send(error.toBody());
    }
    const { status, body } = fromFramework(error);
    if (status >= 500) request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    if (wantsWhipCors(request)) whipCors(reply);
    const body: ErrorBody = {
      code: 'NotFound',
      message: `no route ${request.method} ${clientName(request.url.split('?')[0]!, 200)}`,
    };
    return reply.status(404).send(body);
  });
}
