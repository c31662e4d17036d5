declare module '*.txt' {
  const text: string;
  export default text;
}
declare module '*.bin' {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}
