# The training recipe of the bundled generator, shared by every script that must train at
# the same budget (build_default_model.sh, build_ablations.sh). Source it; use the array.
EPOCHS=${EPOCHS:-95}
RECIPE=(--epochs "$EPOCHS"
    --ngf 32 --ndf 32 --set model.generator.max_channel_multiplier=4 --batch-size 4
    --precision bf16 --channels-last --seed 0 --set optim.decay_second_half=true
    --set checkpoint_every=500 --no-progress)
