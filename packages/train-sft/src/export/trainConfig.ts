// The keys of a LLaMA-Factory training YAML (`src/llamafactory/hparams/` and transformers' Seq2SeqTrainingArguments),
// as a strict schema shared by the SFT export and @infialign/train-dpo's DPO export.
import { z } from "zod";

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/**
 * Keys of a LLaMA-Factory training YAML this project emits, each a field of its argument dataclasses (`hparams/`:
 * model, data, finetuning args) or of transformers' `Seq2SeqTrainingArguments`. Strict, so a misspelt key fails here
 * rather than on the cluster.
 */
export const LlamaFactoryTrainConfigSchema = z
  .object({
    // model
    model_name_or_path: z.string().min(1),
    trust_remote_code: z.boolean(),
    flash_attn: z.enum(["auto", "disabled", "sdpa", "fa2", "fa3"]),
    enable_liger_kernel: z.boolean(),
    // method
    stage: z.enum(["pt", "sft", "rm", "ppo", "dpo", "kto"]),
    do_train: z.boolean(),
    finetuning_type: z.enum(["full", "lora", "freeze"]),
    deepspeed: z.string(),
    lora_rank: z.number().int().positive(),
    lora_alpha: z.number().positive(),
    lora_dropout: z.number().min(0).lt(1),
    lora_target: z.string(),
    pref_beta: z.number(),
    pref_loss: z.enum(["sigmoid", "hinge", "ipo", "kto_pair", "orpo", "simpo"]),
    pref_ftx: z.number().min(0),
    pref_bco_weight: z.number().min(0),
    dpo_label_smoothing: z.number().min(0).max(0.5),
    simpo_gamma: z.number(),
    ld_alpha: z.number(),
    // dataset
    dataset: z.string().min(1),
    dataset_dir: z.string(),
    template: z.string().min(1),
    cutoff_len: z.number().int().positive(),
    max_samples: z.number().int().positive().nullable(),
    overwrite_cache: z.boolean(),
    preprocessing_num_workers: z.number().int().positive(),
    dataloader_num_workers: z.number().int().min(0),
    packing: z.boolean(),
    neat_packing: z.boolean(),
    mix_strategy: z.enum(["concat", "interleave_under", "interleave_over", "interleave_once"]),
    interleave_probs: z.string(),
    enable_thinking: z.boolean(),
    // output
    output_dir: z.string().min(1),
    logging_steps: z.number().int().positive(),
    save_steps: z.number().int().positive(),
    save_total_limit: z.number().int().positive(),
    plot_loss: z.boolean(),
    overwrite_output_dir: z.boolean(),
    save_only_model: z.boolean(),
    report_to: z.string(),
    // train
    per_device_train_batch_size: z.number().int().positive(),
    gradient_accumulation_steps: z.number().int().positive(),
    learning_rate: z.number().positive(),
    num_train_epochs: z.number().positive(),
    lr_scheduler_type: z.enum(["linear", "cosine", "constant", "constant_with_warmup", "cosine_with_min_lr", "inverse_sqrt", "polynomial"]),
    warmup_ratio: z.number().min(0).max(1),
    weight_decay: z.number().min(0),
    adam_beta1: z.number().min(0).lt(1),
    adam_beta2: z.number().min(0).lt(1),
    adam_epsilon: z.number().positive(),
    max_grad_norm: z.number().min(0),
    bf16: z.boolean(),
    seed: z.number().int().min(0),
    ddp_timeout: z.number().int().positive(),
    resume_from_checkpoint: scalar,
  })
  .partial()
  .required({ model_name_or_path: true, stage: true, do_train: true, finetuning_type: true, dataset: true, template: true, output_dir: true })
  .strict();
export type LlamaFactoryTrainConfig = z.infer<typeof LlamaFactoryTrainConfigSchema>;
