import type { z } from 'zod';
import { invalidArgument } from '../../shared/errors';
import { issuePath, parseWith } from '../../shared/validation';

/**
 * parseWith, naming the field of an unknown key too (zod puts those in `keys`, with the path of
 * the object that holds them), so `{ "colour": … }` answers `field: "colour"`.
 */
export function parseBody<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  const issue = result.success ? undefined : result.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const field = issuePath([...issue.path, issue.keys[0]!]);
    throw invalidArgument(`${what}: ${field}: is not a known field`, field);
  }
  return parseWith(schema, value, what);
}
