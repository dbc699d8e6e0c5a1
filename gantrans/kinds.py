"""The legal kinds of data and networks, owned here so that the plugin manager (which checks
what plugins register) and the recipe contract (which uses them) agree without the manager
importing the recipe side, which reaches torch."""

DATA_KINDS = ("unpaired", "paired", "labelled", "single")
"""What a data format holds and a recipe accepts (:class:`gantrans.recipe.DataSpec`)."""

NETWORK_KINDS = {"generator": ("image", "latent", "latent+label"), "discriminator": ("image", "image+label")}
"""Each network kind with the inputs it may take."""
