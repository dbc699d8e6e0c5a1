"""Relativistic average standard GAN (Jolicoeur-Martineau 2019): is real more real than the average fake?"""

import torch.nn.functional as F

from gantrans.gan import AdversarialLoss


class RaSGANLoss(AdversarialLoss):
    name = "rasgan"
    needs_real_logits = True  # the generator's term compares with the real logits too

    def d_loss(self, real_logits, fake_logits):
        real, fake = real_logits.float(), fake_logits.float()
        return F.softplus(fake.mean() - real).mean(), F.softplus(fake - real.mean()).mean()

    def g_loss(self, fake_logits, real_logits=None):
        real, fake = real_logits.float(), fake_logits.float()
        return F.softplus(real.mean() - fake).mean() + F.softplus(real - fake.mean()).mean()
