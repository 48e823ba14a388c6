"""The learned models: exact fixed-point arithmetic (``exact``), the emerging convolutions and their solve
(``emerging``), networks (``nets``), flow layers (``layers``), the causal local context (``causal``), the ANS
coding of latents and pixels (``entropy``), the priors (``priors``), the integer flow that holds them (``flow``;
with no levels, a pixel model), settings (``config``), the shipped models (``zoo``) and training (``train``).
Everything here but ``zoo``'s index and ``config`` needs PyTorch, which is imported only where a model is used."""
