"""Map segmentation: a U-Net that labels every pixel other / street / block / text."""
