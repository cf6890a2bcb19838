// Workers import `.wasm` files as compiled modules (wrangler's CompiledWasm rule; vitest-pool-workers does the same).
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
