// presets.ts: every default model hyper-parameter, in one place, with its source.
// Sizes follow ELECTRA's paper (Clark et al., 2020, Table 6) and google-research/electra's
// configure_pretraining.py; field names are Hugging Face's ElectraConfig.

export interface ElectraConfigJson {
  vocab_size: number;
  embedding_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: "gelu";
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  pad_token_id?: number;
}

export interface ModelPreset {
  discriminator: ElectraConfigJson;
  generator: ElectraConfigJson;
  lr: number;
  batchSize: number;
  maskProb: number;
  seqLen: number;
  steps: number;
  warmupSteps: number;
}

export const BERT_UNCASED_VOCAB_SIZE = 30522;

function config(c: Partial<ElectraConfigJson> & Pick<ElectraConfigJson, "hidden_size" | "num_hidden_layers" | "num_attention_heads" | "intermediate_size" | "embedding_size">): ElectraConfigJson {
  return {
    vocab_size: BERT_UNCASED_VOCAB_SIZE,
    hidden_act: "gelu",
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    ...c,
  };
}

export const PRESETS: Record<"tiny" | "small" | "base" | "large", ModelPreset> = {
  // ELECTRA-Small: 12x256, 4 heads, FFN 1024, embeddings 128; generator 1/4 size (64, 1 head, FFN 256);
  // lr 5e-4, batch 128, mask 0.15, T 128, 1M steps, 10k warm-up (configure_pretraining.py).
  small: {
    discriminator: config({ embedding_size: 128, hidden_size: 256, num_hidden_layers: 12, num_attention_heads: 4, intermediate_size: 1024 }),
    generator: config({ embedding_size: 128, hidden_size: 64, num_hidden_layers: 12, num_attention_heads: 1, intermediate_size: 256 }),
    lr: 5e-4, batchSize: 128, maskProb: 0.15, seqLen: 128, steps: 1_000_000, warmupSteps: 10_000,
  },
  // ELECTRA-Base: 12x768, 12 heads, FFN 3072, embeddings 768; generator 1/3 (256, 4 heads, FFN 1024);
  // lr 2e-4, batch 256, T 512, 766k steps.
  base: {
    discriminator: config({ embedding_size: 768, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 3072 }),
    generator: config({ embedding_size: 768, hidden_size: 256, num_hidden_layers: 12, num_attention_heads: 4, intermediate_size: 1024 }),
    lr: 2e-4, batchSize: 256, maskProb: 0.15, seqLen: 512, steps: 766_000, warmupSteps: 10_000,
  },
  // ELECTRA-Large: 24x1024, 16 heads, FFN 4096; generator 1/4 (256, 4 heads, FFN 1024); mask 0.25;
  // lr 2e-4, batch 2048, T 512, 400k steps.
  large: {
    discriminator: config({ embedding_size: 1024, hidden_size: 1024, num_hidden_layers: 24, num_attention_heads: 16, intermediate_size: 4096 }),
    generator: config({ embedding_size: 1024, hidden_size: 256, num_hidden_layers: 24, num_attention_heads: 4, intermediate_size: 1024 }),
    lr: 2e-4, batchSize: 2048, maskProb: 0.25, seqLen: 512, steps: 400_000, warmupSteps: 10_000,
  },
  // tiny: for demos and tests on two CPU cores (not from the paper): 4x128, 2 heads, FFN 512,
  // embeddings 64; generator 1/4 (32, 1 head, FFN 128); ELECTRA-Small's learning rate (1e-3 stalls the
  // discriminator at the base rate on small data, as the PyTorch reference does too); warm-up 1% of the steps.
  tiny: {
    discriminator: config({ embedding_size: 64, hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 2, intermediate_size: 512, max_position_embeddings: 128 }),
    generator: config({ embedding_size: 64, hidden_size: 32, num_hidden_layers: 4, num_attention_heads: 1, intermediate_size: 128, max_position_embeddings: 128 }),
    lr: 1e-4, batchSize: 32, maskProb: 0.15, seqLen: 128, steps: 20_000, warmupSteps: 200,
  },
};

// ELECTRA's loss weights and sampling temperature (configure_pretraining.py).
export const LOSS_DEFAULTS = { genWeight: 1.0, discWeight: 50.0, temperature: 1.0 } as const;
// ELECTRA's AdamW (optimization.py): weight decay 0.01, epsilon 1e-6, clip 1.0, no bias correction.
export const OPTIMIZER_DEFAULTS = { weightDecay: 0.01, adamEpsilon: 1e-6, clipNorm: 1.0 } as const;
// BERT's uncased vocabulary's special tokens.
export const BERT_SPECIAL_IDS = { pad: 0, unk: 100, cls: 101, sep: 102, mask: 103 } as const;

// WordPiece vocabulary training (`electra vocab`, `prepare --vocab-size`): BERT's size and special tokens,
// and Hugging Face's BertWordPieceTokenizer.train defaults (min_frequency 2, limit_alphabet 1000).
// A trained vocabulary has [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4 (BERT's own file: 0, 100..103).
export const VOCAB_DEFAULTS = {
  vocabSize: BERT_UNCASED_VOCAB_SIZE,
  minFrequency: 2,
  limitAlphabet: 1000,
  specialTokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
} as const;
export const TRAINED_VOCAB_SPECIAL_IDS = { pad: 0, unk: 1, cls: 2, sep: 3, mask: 4 } as const;

// ELECTRA's GLUE fine-tuning recipe (Clark et al., 2020, Table 7; finetune/configure_finetuning.py):
// lr 3e-4 (Small), 1e-4 (Base), 5e-5 (Large); layer-wise decay 0.8 (0.9 Large); 3 epochs (10 for
// RTE and STS-B, in the task table); 10% warm-up; batch 32; 128 tokens; Adam epsilon 1e-6; clip 1;
// dropout 0.1; weight decay 0.01.
export const FINETUNE_DEFAULTS = {
  batchSize: 32,
  maxSeqLength: 128,
  warmupFraction: 0.1,
  weightDecay: 0.01,
  adamEpsilon: 1e-6,
  clipNorm: 1.0,
  classifierDropout: 0.1,
} as const;

/** ELECTRA's learning rate and layer-wise decay for a model of this hidden size. */
export function finetuneRecipe(hiddenSize: number): { lr: number; layerwiseLrDecay: number; size: "small" | "base" | "large" } {
  if (hiddenSize <= 256) return { lr: 3e-4, layerwiseLrDecay: 0.8, size: "small" };
  if (hiddenSize <= 768) return { lr: 1e-4, layerwiseLrDecay: 0.8, size: "base" };
  return { lr: 5e-5, layerwiseLrDecay: 0.9, size: "large" };
}
