/** A control request body that does not have the expected shape; its message goes back to the caller as-is. */
export class InvalidInputError extends Error {}

/** True for plain JSON objects (not arrays, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads an optional string field; null counts as absent. */
export function optionalString(input: Record<string, unknown>, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidInputError(`${key} must be a string`);
  return value;
}

/** Reads a required non-empty string field. */
export function requiredString(input: Record<string, unknown>, key: string): string {
  const value = optionalString(input, key);
  if (value === undefined || value === '') throw new InvalidInputError(`missing ${key}`);
  return value;
}

/** Reads an optional finite number field and checks it with `isValid`. */
export function optionalNumber(input: Record<string, unknown>, key: string, isValid: (value: number) => boolean = () => true): number | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || !isValid(value)) throw new InvalidInputError(`invalid ${key}`);
  return value;
}

/** Reads an optional boolean field. */
export function optionalBoolean(input: Record<string, unknown>, key: string): boolean | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new InvalidInputError(`${key} must be true or false`);
  return value;
}

/** Reads an optional array-of-strings field. */
export function optionalStringArray(input: Record<string, unknown>, key: string): string[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string')) {
    throw new InvalidInputError(`${key} must be an array of strings`);
  }
  return value;
}
