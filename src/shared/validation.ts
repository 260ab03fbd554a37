import type { z } from 'zod';
import { StudioError } from './errors';

/**
 * A name from the client as error messages and logs show it: at most `max` characters (a 900 KB
 * field name must not come back as a 900 KB error, or go twice into a log line).
 */
export function clientName(name: string, max = 64): string {
  return name.length <= max ? name : `${name.slice(0, max)}… (${name.length} characters)`;
}

/** Dotted path of a zod issue, e.g. `layout.regions[2].x_pos`. */
export function issuePath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? clientName(String(part)) : `.${clientName(String(part))}`;
  }
  return out;
}

/**
 * Parses `value` with `schema`, or throws an InvalidArgument StudioError whose message names
 * the first offending field and why. `what` names the whole value (e.g. "request body").
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    // zod puts unknown keys in `keys`, with the path of the object holding them.
    const unknown = issuePath([...issue.path, issue.keys[0]!]);
    throwInvalid(`${what}: ${unknown}: is not a known field`, unknown);
  }
  const field = issuePath(issue.path);
  const message = field === '' ? `${what}: ${issue.message}` : `${what}: ${field}: ${issue.message}`;
  return throwInvalid(message, field === '' ? undefined : field);
}

function throwInvalid(message: string, field: string | undefined): never {
  throw new StudioError('InvalidArgument', message, field);
}
