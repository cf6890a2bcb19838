/** What the Node-side global setup hands to the workerd tests (see global-setup.ts). */
export interface NodeAnswers {
  /** Vision variant Node used (the WASM backend's choice: int8 when the folder has it, else fp32). */
  variant: string;
  labelSet: string;
  images: { file: string; results: { label: string; score: number }[]; embedding: number[]; inPlaceEmbedding: number[] }[];
}

/** The bundled model's own label set; its prompt cache ships in models/tiny-clip/prompts/. */
export const COMPARE_LABEL_SET = 'tiny-clip-shapes';

/** Where the tests' R2 and KV get their contents: files of the repository, served from Node. */
export const MODEL_ID = 'tiny-clip';
export const MODEL_DIR = 'models/tiny-clip';

declare module 'vitest' {
  interface ProvidedContext {
    nodeAnswers: NodeAnswers;
  }
}
