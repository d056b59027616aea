"""The course's task: translating English number words into German (notebooks 07 and later).

Task code, not model code: the model parts live one level up, in ``transformer_course``.

- ``number_words``: the data, generated (no downloads): English and German number words for
  0..999,999 as token lists, the vocabularies, train/val/test splits by number, padded batches.
- ``training``: the label-smoothed loss, learning-rate warm-up, one training step, the loop.
- ``decoding``: greedy decoding, beam search, exact match.
- ``interpret``: the attention maps of a translation.
- ``lm_data`` (notebook 09): the same task as ONE sequence for a decoder-only model
  (``<bos> English = German <eos>``, the loss on the German), and counting in words.
- ``lm_training`` (notebook 09): the causal language-model loss, training a GPT, translating by generation.
"""
