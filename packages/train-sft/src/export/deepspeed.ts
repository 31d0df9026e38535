// DeepSpeed config the exported LLaMA-Factory runs train with.

/** `examples/deepspeed/ds_z3_config.json` as LLaMA-Factory ships it ("auto" values are filled from the training arguments). */
export const DS_Z3_CONFIG = {
  train_batch_size: "auto",
  train_micro_batch_size_per_gpu: "auto",
  gradient_accumulation_steps: "auto",
  gradient_clipping: "auto",
  zero_allow_untested_optimizer: true,
  fp16: { enabled: "auto", loss_scale: 0, loss_scale_window: 1000, initial_scale_power: 16, hysteresis: 2, min_loss_scale: 1 },
  bf16: { enabled: "auto" },
  zero_optimization: {
    stage: 3,
    overlap_comm: false,
    contiguous_gradients: true,
    sub_group_size: 1e9,
    reduce_bucket_size: "auto",
    stage3_prefetch_bucket_size: "auto",
    stage3_param_persistence_threshold: "auto",
    stage3_max_live_parameters: 1e9,
    stage3_max_reuse_distance: 1e9,
    stage3_gather_16bit_weights_on_model_save: true,
  },
} as const;
