// Keeps a subscription's secrets (header values, signing secret) out of what attempts record and log.

const REDACTED = '[redacted]';

/** Shorter values cannot be secrets, and hiding them would garble the text ("HTTP 401"). */
const MIN_SECRET_CHARS = 4;

/**
 * What must never appear in an attempt's excerpt: each value as configured, its JSON-escaped and
 * URL-encoded forms (receivers echo headers as JSON), and each word of a multi-word value (a
 * receiver may echo only the token of `Bearer ghp_…`). Longest first, so a value's prefix does not
 * leave the rest readable.
 */
export function secretForms(values: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const value of values) {
    for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) {
      forms.add(form);
    }
    for (const word of value.split(/\s+/)) if (word.length >= 8) forms.add(word);
  }
  return [...forms].filter((f) => f.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
}

/** `text` with every one of `forms` replaced by `[redacted]`. */
export function redact(text: string, forms: readonly string[]): string {
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
  return out;
}
