/**
 * Cut user-controlled strings (MQTT client ids, user names, topics, addresses from the wire)
 * to a fixed length before they go into a log line or an error message: a 60 KB client id must
 * not become a 60 KB journald line on an SD card.
 */

/** Default number of characters kept. */
export const CLIP_LENGTH = 64;

/**
 * `value` unchanged when it has at most `max` characters (code points), else its first `max`
 * characters followed by `…(+N)` where N is how many characters were cut. A surrogate pair is
 * never split. undefined and null stay undefined (the log field is then left out).
 */
export function clip(value: string | undefined | null, max: number = CLIP_LENGTH): string | undefined {
  if (value === undefined || value === null) return undefined;
  const limit = Math.max(0, Math.floor(max));
  // Fast path: UTF-16 length <= limit means at most `limit` code points.
  if (value.length <= limit) return value;
  let kept = 0;
  let end = 0;
  while (end < value.length && kept < limit) {
    const code = value.charCodeAt(end);
    end += code >= 0xd800 && code <= 0xdbff && end + 1 < value.length ? 2 : 1;
    kept++;
  }
  if (end >= value.length) return value;
  // Count the rest in code points without copying it into an array.
  let rest = 0;
  for (let i = end; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) i++;
    rest++;
  }
  return `${value.slice(0, end)}…(+${rest})`;
}
