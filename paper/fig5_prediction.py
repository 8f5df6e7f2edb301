# %% [markdown]
# # Figure 5: prediction performance
#
# For every model: predicted vs observed thinning with R^2 and r, for the paper-style in-sample
# fit beside the out-of-sample prediction (spatially blocked CV, homologous regions held out
# together); the null distributions of r when the whole pipeline is refitted on spatial
# surrogate maps (spin test, variogram-matched brainsmash surrogates), with one-sided p-values;
# and the observed, fitted and predicted maps on the cortex. All logic is in
# `xscale.paper.prediction` (fits and nulls cached by `xscale.paper.runs`).

# %% tags=["parameters"]
quick = True  # smoke-test settings; False = the paper's protocol
target = "enigma:scz"  # enigma:<name>, a CSV map (e.g. derived from ADNI) or a run directory
models = "gnn-vae,ridge"  # model presets (e.g. gnn-vae,gp-svi,ridge,spatial-gp) or plugins encoder/prior/decoder/backend
seed = 0  # seeds the fits, the fold layout and the surrogates
n_null = None  # surrogates per null family (None: 5 quick, 100 full); 0 = no nulls
nulls = "spin-vasa,brainsmash"  # null families
out = "results/paper"  # build directory; fits and nulls are cached in runs/ and nulls/

# %%
from IPython.display import display

from xscale.config import model_slug
from xscale.paper import prediction
from xscale.paper.figio import save_figure
from xscale.paper.settings import PaperParams

params = PaperParams.from_notebook(quick=quick, target=target, models=models, seed=seed, n_null=n_null,
                                   nulls=nulls, out=out)
preds = [prediction.model_prediction(params, m) for m in params.models]
prediction.write_results(preds, params.tables / "fig5_prediction")
prediction.results_table(preds)

# %%
for mp in preds:
    display(save_figure(prediction.figure(params, mp), params.figures, f"fig5_prediction_{model_slug(mp.run.model)}"))
save_figure(prediction.summary_figure(params, preds), params.figures, "fig5_summary")
