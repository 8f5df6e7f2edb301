# %% [markdown]
# # Table 1: claims, paper / reference value vs reproduced value
#
# Every claim of `paper/claims.yaml`: the paper's own numbers (in-sample, on the restricted ADNI
# Alzheimer's map; checked only when `adni` is given) and xscale's reference numbers on the
# embedded data (in-sample and out-of-sample, the regression tests of the science), each with
# its tolerance and verdict; then the numbers reproduced on this build's target. The same check
# runs as `xscale paper verify`. All logic is in `xscale.paper.claims`.

# %% tags=["parameters"]
quick = True  # quick mode checks the claims' quick-mode regression values
target = "enigma:scz"  # this build's map, tabulated below the claims
models = "gnn-vae,ridge"  # models tabulated for the target
seed = 0
n_null = None  # as in Fig 5 (its cached nulls are reused)
nulls = "spin-vasa,brainsmash"
adni = None  # ADNI run directory or ADNI-derived map CSV, for the claims that need ADNI
out = "results/paper"  # build directory

# %%
from pathlib import Path

from IPython.display import Markdown, display

from xscale.paper import claims, prediction
from xscale.paper.settings import PaperParams

params = PaperParams.from_notebook(quick=quick, target=target, models=models, seed=seed, n_null=n_null,
                                   nulls=nulls, adni=adni, out=out)
verification = claims.verify(quick=params.quick, adni=params.adni, runs=Path(params.out) / "runs")
claims.write(verification, params.tables)
display(Markdown(claims.markdown(verification)))

# %% [markdown]
# ## Reproduced on this build's target
# In-sample rows are goodness of fit, not predictions; p-values are from refitting on spatial
# surrogates (consensus = largest p over the spatial families).

# %%
preds = [prediction.model_prediction(params, m) for m in params.models]
prediction.write_results(preds, params.tables / "table1_dataset")
prediction.results_table(preds)
