/**
 * Accept-Encoding as page caching keys it. Browsers list the same codings in different orders,
 * spacings, cases and weights ("gzip, deflate, br" and "br;q=1.0, gzip, deflate"); keyed as sent,
 * each spelling would get its own copy of a page that varies on Accept-Encoding. Two requests
 * that accept and refuse the same codings can be answered with the same response, whichever
 * coding the server picked for the first, so they share one key.
 */

/** An RFC 9110 weight: `q=` then 0 to 1 with at most three decimals. */
const WEIGHT = /^q\s*=\s*(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * The codings `header` accepts (weight above 0) and refuses (weight 0, as `coding;q=0`),
 * lowercase, deduplicated and sorted; `null` when there is no header (which accepts anything).
 *
 * @example
 * acceptedCodings("br;q=1.0, GZIP , deflate"); // "br,deflate,gzip"
 * acceptedCodings("Identity;Q=0 , gzip");      // "gzip,identity;q=0"
 */
export function acceptedCodings(header: string | null): string | null {
  if (header === null) return null;
  const codings = new Set<string>();
  for (const member of header.split(",")) {
    const [coding = "", ...parameters] = member.split(";").map((part) => part.trim().toLowerCase());
    if (coding === "") continue;
    if (parameters.length === 0) {
      codings.add(coding);
      continue;
    }
    const weight = parameters.length === 1 ? WEIGHT.exec(parameters[0]!) : null;
    // Anything but one valid weight is kept as sent: a server may read it either way, so it
    // shares a key only with the same spelling.
    if (weight === null) codings.add(member.trim().toLowerCase().replace(/\s+/g, ""));
    else codings.add(Number(weight[1]) > 0 ? coding : `${coding};q=0`);
  }
  return [...codings].sort().join(",");
}
