"""The paper's figures, claims and reproduction report (``paper/`` notebooks, ``xscale paper``).

The notebooks in ``paper/`` (jupytext percent-format ``.py`` files) stay thin: every number and
every panel comes from a function here, tested on the embedded data.

* :mod:`~xscale.paper.settings`: notebook parameters (quick / full, target, models, seed).
* :mod:`~xscale.paper.runs`: cached model runs and spatial-null distributions under the build
  directory, shared by the notebooks.
* :mod:`~xscale.paper.figio`: saving figures as PNG and PDF, atomically.
* :mod:`~xscale.paper.surface`: DK maps on nilearn's bundled fsaverage5 meshes.
* :mod:`~xscale.paper.workflow` (Fig 1), :mod:`~xscale.paper.vulnerability` (Fig 2),
  :mod:`~xscale.paper.transcriptome` (Fig 3), :mod:`~xscale.paper.latent` (Fig 4),
  :mod:`~xscale.paper.prediction` (Fig 5).
* :mod:`~xscale.paper.claims`: ``paper/claims.yaml`` and ``xscale paper verify`` (Table 1).
* :mod:`~xscale.paper.notebooks`: parameter injection and execution (jupytext + nbclient).
* :mod:`~xscale.paper.report`: ``xscale paper build``: one HTML report with provenance.
"""
