/**
 * YAML files imported as text: `import text from '../config/groups.yaml' with { type: 'text' }`.
 * esbuild honours the `type: 'text'` import attribute without a loader entry (scripts/build.mjs).
 */
declare module '*.yaml' {
  const text: string;
  export default text;
}
