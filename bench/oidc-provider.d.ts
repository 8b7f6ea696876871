// oidc-provider ships no type declarations (its @types package lags the major version); the benchmark uses
// a handful of its documented calls.
declare module "oidc-provider" {
  // biome-ignore lint/suspicious/noExplicitAny: untyped third-party module, used only by the benchmark
  const Provider: any;
  export default Provider;
}
