import { Tokenizer } from '@huggingface/tokenizers';
import { ClipEdgeError } from './errors.ts';

/** Token ids and attention mask for a batch, laid out as the text tower's `[N, contextLength]` int64 inputs. */
export interface TokenizedBatch {
  readonly inputIds: BigInt64Array;
  readonly attentionMask: BigInt64Array;
  readonly batch: number;
  readonly contextLength: number;
  /** Per text: whether it was cut to fit the context (it still ends with `<|endoftext|>`). */
  readonly truncated: readonly boolean[];
}

export interface ClipTokenizer {
  readonly contextLength: number;
  /** Ids with `<|startoftext|>` and `<|endoftext|>`, truncated to the context length, not padded. */
  encode(text: string): number[];
  encodeBatch(texts: readonly string[]): TokenizedBatch;
}

export interface ClipTokenizerOptions {
  /** Positions of the text tower. @defaultValue 77 */
  contextLength?: number;
  /**
   * Id used for padding. @defaultValue the `pad_token` of tokenizer_config.json, else `<|endoftext|>`
   * (Hugging Face's CLIPTokenizer pads with 49407; openai/CLIP's `clip.tokenize` pads with 0 —
   * both give the same embeddings, which are pooled at the first `<|endoftext|>`).
   */
  padId?: number;
}

const tokenName = (t: unknown): string | undefined =>
  typeof t === 'string' ? t : typeof t === 'object' && t !== null && 'content' in t ? String(t.content) : undefined;

/** The real CLIP BPE tokenizer (Hugging Face `tokenizer.json`), padded and truncated as CLIP's text tower needs. */
export function createClipTokenizer(
  tokenizerJson: unknown,
  tokenizerConfig: Record<string, unknown> = {},
  options: ClipTokenizerOptions = {},
): ClipTokenizer {
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson as object, tokenizerConfig);
  } catch (cause) {
    throw new ClipEdgeError('MODEL_INVALID', 'tokenizer.json could not be loaded', { cause });
  }
  const eot = tokenizer.token_to_id(tokenName(tokenizerConfig.eos_token) ?? '<|endoftext|>');
  if (eot === undefined) throw new ClipEdgeError('MODEL_INVALID', 'tokenizer.json has no <|endoftext|> token');
  const padId = options.padId ?? tokenizer.token_to_id(tokenName(tokenizerConfig.pad_token) ?? '') ?? eot;
  const contextLength = options.contextLength ?? 77;
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw new ClipEdgeError('BAD_INPUT', `contextLength must be an integer ≥ 2, got ${contextLength}`);
  }

  const encodeOne = (text: string): { ids: number[]; truncated: boolean } => {
    const ids = tokenizer.encode(text).ids;
    if (ids.length <= contextLength) return { ids, truncated: false };
    // Keep <|startoftext|> and the first tokens, and end with <|endoftext|> as CLIP's truncate=True does.
    return { ids: [...ids.slice(0, contextLength - 1), eot], truncated: true };
  };

  return {
    contextLength,
    encode: (text) => encodeOne(text).ids,
    encodeBatch(texts) {
      const n = texts.length;
      const inputIds = new BigInt64Array(n * contextLength).fill(BigInt(padId));
      const attentionMask = new BigInt64Array(n * contextLength);
      const truncated: boolean[] = [];
      texts.forEach((text, row) => {
        const { ids, truncated: cut } = encodeOne(text);
        truncated.push(cut);
        const base = row * contextLength;
        ids.forEach((id, i) => {
          inputIds[base + i] = BigInt(id);
          attentionMask[base + i] = 1n;
        });
      });
      return { inputIds, attentionMask, batch: n, contextLength, truncated };
    },
  };
}
