"""Face Explorer's Qt layer: windows, panels and workers. It calls ``vae``; ``vae`` never calls it."""
