// Vite's `?raw` imports (a file's text, e.g. a docs page a test checks), as vite/client declares them.
declare module '*?raw' {
  const text: string;
  export default text;
}
