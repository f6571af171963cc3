"""Image-quality and identity metrics (FSIM, SSIM, PSNR, NLDA, learned)."""
