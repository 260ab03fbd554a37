import type { FastifyError, FastifyInstance } from 'fastify';
import { wantsWhipCors, whipCors } from './cors';
import { errorCodeOfStatus, httpStatusOf, StudioError, type ErrorBody } from '../../shared/errors';

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
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    };
    return reply.status(404).send(body);
  });
}
