"""The paper's GNN-VAE (arXiv 2606.05870) as xscale plugins.

``gnn`` encoder (GCNConv layers, torch_geometric) -> 64-dim latent per region,
``laplacian`` prior (edge smoothness + KL to N(0, I)), ``mlp`` decoder, ``adam`` backend.
"""

__version__ = "0.3.1"
