/** The first value of a metadata entry: node gives an entry sent more than once as an array. */
export function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
