# %% [markdown]
# # Figure 3: transcriptomic organisation of the landmark genes
#
# AHBA expression of the L1000 landmark genes on the 66 DK regions with samples: a region x gene
# heatmap ordered by hierarchical clustering, the variance decomposition (principal components;
# per gene, the shares explained by lobe and hemisphere) and the genes that vary most across
# regions. No model is fitted here. All logic is in `xscale.paper.transcriptome`.

# %% tags=["parameters"]
out = "results/paper"  # build directory

# %%
from xscale.paper import transcriptome
from xscale.paper.figio import save_figure
from xscale.paper.settings import PaperParams

params = PaperParams.from_notebook(out=out)
save_figure(transcriptome.figure(params), params.figures, "fig3_transcriptome")
