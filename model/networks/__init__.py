"""Network definitions: generators, discriminators, the BiSeNet parser, VGG-19 features."""
