"""Analysis of latent codes and models: metrics, evaluation, projections, mixtures, paths."""
