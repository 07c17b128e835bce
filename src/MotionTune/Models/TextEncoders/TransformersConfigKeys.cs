namespace MotionTune.Models.TextEncoders;

/// <summary>
/// Keys that transformers' <c>PretrainedConfig</c> writes into every <c>config.json</c> (generation defaults, labels,
/// bookkeeping) and that do not change an encoder's forward pass. Older checkpoints carry all of them.
/// </summary>
public static class TransformersConfigKeys
{
    /// <summary>The keys.</summary>
    public static IReadOnlyCollection<string> Inert { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "architectures", "model_type", "transformers_version", "torch_dtype", "dtype", "return_dict", "output_hidden_states",
        "output_attentions", "torchscript", "use_bfloat16", "tf_legacy_loss", "pruned_heads", "tie_word_embeddings",
        "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder", "cross_attention_hidden_size", "add_cross_attention",
        "tie_encoder_decoder", "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
        "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "length_penalty",
        "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "output_scores",
        "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
        "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "finetuning_task",
        "id2label", "label2id", "tokenizer_class", "prefix", "bos_token_id", "pad_token_id", "sep_token_id",
        "decoder_start_token_id", "task_specific_params", "problem_type", "gradient_checkpointing", "use_cache",
        "initializer_range", "initializer_factor", "dropout", "attention_dropout", "n_positions", "output_past",
        "classifier_dropout", "dropout_rate", "scale_decoder_outputs",
    };
}
