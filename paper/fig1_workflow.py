# %% [markdown]
# # Figure 1: preprocessing workflow and quality control
#
# The data flow from the checksummed inputs to the models, with the counts read from the files
# themselves (AHBA donors, genes before and after landmark selection, DK regions and surface
# edges, subjects per group in the thinning map), and quality-control panels: agreement of each
# region's expression profile with its other-hemisphere homologue, subjects per region,
# expression per region, and the thinning map with its confidence intervals.
# All logic is in `xscale.paper.workflow` and `xscale.paper.diagram`.

# %% tags=["parameters"]
quick = True  # smoke-test settings; False = the paper's protocol
target = "enigma:scz"  # enigma:<name>, a CSV map (e.g. derived from ADNI) or a run directory
models = "gnn-vae,ridge"  # model presets named in the diagram
n_null = None  # surrogates per null family (None: 5 quick, 100 full)
out = "results/paper"  # build directory: figures/, tables/, runs/, nulls/

# %%
from xscale.paper import diagram
from xscale.paper.figio import save_figure
from xscale.paper.settings import PaperParams

params = PaperParams.from_notebook(quick=quick, target=target, models=models, n_null=n_null, out=out)
save_figure(diagram.figure(params), params.figures, "fig1_workflow")
