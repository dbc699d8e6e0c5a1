"""A ResNet generator whose upsampling is nearest-neighbour resize + 3x3 conv (Odena et al. 2016)."""

from torch import nn

NORMS = {"instance": nn.InstanceNorm2d, "batch": nn.BatchNorm2d, "none": lambda channels: nn.Identity()}


def conv(cin, cout, norm, k=3, stride=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, padding_mode="reflect"), NORMS[norm](cout), nn.ReLU(True)]


class ResBlock(nn.Module):
    def __init__(self, dim, norm, dropout):
        super().__init__()
        layers = conv(dim, dim, norm) + ([nn.Dropout(0.5)] if dropout else []) + conv(dim, dim, norm)[:2]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x)


class ResizeResnet(nn.Module):
    """7x7 conv, two stride-2 convs, residual blocks, two resize-convs, 7x7 conv, tanh: H, W % 4 == 0."""

    def __init__(self, in_channels, out_channels, ngf, norm, dropout, n_blocks):
        super().__init__()
        layers = conv(in_channels, ngf, norm, k=7)
        layers += conv(ngf, ngf * 2, norm, stride=2) + conv(ngf * 2, ngf * 4, norm, stride=2)
        layers += [ResBlock(ngf * 4, norm, dropout) for _ in range(n_blocks)]
        layers += [nn.Upsample(scale_factor=2)] + conv(ngf * 4, ngf * 2, norm)
        layers += [nn.Upsample(scale_factor=2)] + conv(ngf * 2, ngf, norm)
        layers += [nn.Conv2d(ngf, out_channels, 7, padding=3, padding_mode="reflect"), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)
