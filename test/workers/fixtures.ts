/** What the Node-side global setup hands to the workerd tests (see global-setup.ts). */
export interface NodeAnswers {
  /** Vision variant Node used (the WASM backend's choice: int8 when the folder has it, else fp32). */
  variant: string;
  labelSet: string;
  images: { file: string; results: { label: string; score: number }[]; embedding: number[]; inPlaceEmbedding: number[] }[];
  /** Node's answers for what the text Worker computes (TEXT_COMPARE). */
  text: {
    variant: string;
    classify: { file: string; results: { label: string; score: number }[] }[];
    queryEmbedding: number[];
    searchFiles: string[];
    searchTop10: string[];
  };
}

/** Inline labels no cache holds (the model's default templates: 20 prompts), a text query, and images to classify. */
export const TEXT_COMPARE = {
  variant: 'int8',
  labels: ['red circle', 'blue star', 'green heart', 'yellow square', 'purple triangle'],
  // Not one of the labels' prompts: an int8 row depends slightly on its batch-mates (DynamicQuantizeLinear's per-tensor scale), so the query is embedded alone on both sides.
  query: 'a blue star on a plain background',
  images: ['test/fixtures/tiny-clip-eval/images/red_circle_01.jpg', 'test/fixtures/tiny-clip-eval/images/blue_star_01.jpg', 'test/fixtures/tiny-clip-eval/images/green_heart_00.jpg'],
} as const;

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
