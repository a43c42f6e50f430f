"""A pipeline shaped like EchoMimicV2's (a `DiffusionPipeline` holding
`denoising_unet`, `reference_unet`, `pose_guider`, `vae` and a DDIM
`scheduler`; the reference UNet runs once, the pose guider feeds every step),
with random tiny networks and no nanscope in it. It is called twice."""

import torch
from diffusers import AutoencoderKL, DDIMScheduler, DiffusionPipeline, UNet2DConditionModel


class PoseGuider(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_in = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv_out = torch.nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, pose):
        return self.conv_out(torch.nn.functional.silu(self.conv_in(pose)))


def tiny_unet():
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=8, attention_head_dim=4, norm_num_groups=4,
    )


class EchoLikePipeline(DiffusionPipeline):
    def __init__(self, vae, reference_unet, denoising_unet, pose_guider, scheduler):
        super().__init__()
        self.register_modules(vae=vae, reference_unet=reference_unet, denoising_unet=denoising_unet,
                              pose_guider=pose_guider, scheduler=scheduler)

    @torch.no_grad()
    def __call__(self, pose, steps=2):
        context = torch.randn(1, 3, 8, generator=torch.Generator().manual_seed(1))
        latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(2))
        pose_features = self.pose_guider(pose)
        self.scheduler.set_timesteps(steps)
        for i, t in enumerate(self.scheduler.timesteps):
            if i == 0:
                self.reference_unet(latents, torch.zeros_like(t), encoder_hidden_states=context)
            noise = self.denoising_unet(latents + pose_features, t, encoder_hidden_states=context).sample
            latents = self.scheduler.step(noise, t, latents).prev_sample
        return self.vae.decode(latents).sample


torch.manual_seed(0)
vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8,),
                    down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",),
                    norm_num_groups=4, sample_size=8)
pipe = EchoLikePipeline(vae, tiny_unet(), tiny_unet(), PoseGuider(), DDIMScheduler(num_train_timesteps=50))
pose = torch.rand(1, 3, 8, 8)
for _ in range(2):
    video = pipe(pose)
print("video", tuple(video.shape))
