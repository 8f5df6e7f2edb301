# %% [markdown]
# # Figure 4: latent transcriptomic programs
#
# The latent space of the first latent-variable model in `models` (the in-sample fit's posterior
# mean per region): its principal components ("programs") and a t-SNE embedding, regions coloured
# by lobe and by vulnerability; clusters of regions by latent similarity, drawn on the cortex;
# and each program's gene module (the landmark genes whose expression correlates most with it).
# All logic is in `xscale.paper.latent` and `xscale.paper.latent_figure`.

# %% tags=["parameters"]
quick = True  # smoke-test settings; False = the paper's protocol
target = "enigma:scz"  # enigma:<name>, a CSV map (e.g. derived from ADNI) or a run directory
models = "gnn-vae,ridge"  # the first latent-variable preset is drawn (gnn-vae or gp-svi)
seed = 0  # seeds the fit and t-SNE
out = "results/paper"  # build directory; fits are cached in runs/

# %%
from xscale.paper import latent_figure
from xscale.paper.figio import save_figure
from xscale.paper.settings import PaperParams

params = PaperParams.from_notebook(quick=quick, target=target, models=models, seed=seed, out=out)
save_figure(latent_figure.figure(params), params.figures, "fig4_latent")
